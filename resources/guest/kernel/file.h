// Open files and in-memory inodes.
struct file {
  enum { FD_NONE, FD_PIPE, FD_INODE, FD_DEVICE } type;
  int ref;
  char readable;
  char writable;
  struct pipe *pipe;  // FD_PIPE
  struct inode *ip;   // FD_INODE and FD_DEVICE
  uint off;           // FD_INODE
  short major;        // FD_DEVICE
};

// In-memory copy of an inode. The file system runs under one sleep lock
// (fslock), so inodes need no locks of their own.
struct inode {
  uint dev;
  uint inum;
  int ref;
  int valid;
  ushort type;
  ushort major;
  ushort minor;
  ushort nlink;
  uint size;
  uint addrs[NDIRECT];
  uint indirect;
  uint dindirect;
};

// Device switch: read and write by major number.
struct devsw {
  int (*read)(int user_dst, uint dst, int n);
  int (*write)(int user_src, uint src, int n);
};
extern struct devsw devsw[];
#define CONSOLE 1
