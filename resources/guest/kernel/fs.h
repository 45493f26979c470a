// On-disk file system format (docs/guest-fs.md).

#define BSIZE 1024
#define FSMAGIC 0x4F435344

struct superblock {
  uint magic;
  uint size;
  uint nblocks;
  uint ninodes;
  uint inodestart;
  uint bmapstart;
  uint datastart;
};

#define NDIRECT 11
#define NINDIRECT (BSIZE / sizeof(uint))
#define MAXFILE (NDIRECT + NINDIRECT + NINDIRECT * NINDIRECT)

struct dinode {
  ushort type;
  ushort major;
  ushort minor;
  ushort nlink;
  uint size;
  uint addrs[NDIRECT];
  uint indirect;
  uint dindirect;
};

#define IPB (BSIZE / sizeof(struct dinode))
#define IBLOCK(i, sb) ((i) / IPB + (sb).inodestart)
#define BPB (BSIZE * 8)
#define BBLOCK(b, sb) ((b) / BPB + (sb).bmapstart)

#define DIRSIZ 14
struct dirent {
  ushort inum;
  char name[DIRSIZ];
};

#define ROOTINO 1
