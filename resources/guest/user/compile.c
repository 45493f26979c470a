// compile: pmake's compiler, a stand-in for cc1. Reads a C-like source
// file, tokenizes it, interns identifiers in a symbol table, runs a few
// passes over the token stream and writes an "object file". The output is
// a pure function of the input, so pmake's checksum is fixed.
//
//   compile source object

#include "user.h"

#define NSYM   1024    // symbol table slots (a power of two)
#define MAXTOK 65536

enum { K_IDENT = 1, K_NUMBER, K_PUNCT, K_STRING };

struct sym {
  uint hash;
  int len;
  const char *name;
  int uses;
};

static struct sym syms[NSYM];
static int nsyms;
static uint tokens[MAXTOK];
static int ntokens;

static int
intern(const char *s, int len)
{
  uint h = fnv1a(FNV_INIT, s, len);
  int i;

  for(i = h & (NSYM - 1); ; i = (i + 1) & (NSYM - 1)){
    if(syms[i].name == 0){
      if(nsyms >= NSYM - 1)
        return 0;     // table full: fold into slot 0's index
      syms[i].hash = h;
      syms[i].len = len;
      syms[i].name = s;
      nsyms++;
      break;
    }
    if(syms[i].hash == h && syms[i].len == len && memcmp(syms[i].name, s, len) == 0)
      break;
  }
  syms[i].uses++;
  return i;
}

static void
emit(int kind, uint value)
{
  if(ntokens < MAXTOK)
    tokens[ntokens++] = (kind << 24) | (value & 0xffffff);
}

static void
tokenize(const char *s, int n)
{
  const char *end = s + n, *p;
  uint v;

  while(s < end){
    if(isspace(*s)){
      s++;
    } else if(s + 1 < end && s[0] == '/' && s[1] == '/'){
      while(s < end && *s != '\n')
        s++;
    } else if(isalpha(*s)){
      for(p = s; p < end && (isalpha(*p) || isdigit(*p)); p++)
        ;
      emit(K_IDENT, intern(s, p - s));
      s = p;
    } else if(isdigit(*s)){
      for(v = 0; s < end && isdigit(*s); s++)
        v = v * 10 + *s - '0';
      emit(K_NUMBER, v);
    } else if(*s == '"'){
      for(p = s + 1; p < end && *p != '"'; p++)
        ;
      emit(K_STRING, fnv1a(FNV_INIT, s, p - s));
      s = p + 1;
    } else {
      emit(K_PUNCT, (uchar)*s);
      s++;
    }
  }
}

// "Optimisation": fold NUMBER op NUMBER into one NUMBER, a few times over.
static void
fold(void)
{
  int i, j, passes;
  uint a, b, op;

  for(passes = 0; passes < 3; passes++){
    for(i = j = 0; i < ntokens; i++){
      if(i + 2 < ntokens && tokens[i] >> 24 == K_NUMBER && tokens[i + 1] >> 24 == K_PUNCT &&
         tokens[i + 2] >> 24 == K_NUMBER){
        a = tokens[i] & 0xffffff;
        op = tokens[i + 1] & 0xff;
        b = tokens[i + 2] & 0xffffff;
        if(op == '+' || op == '*' || op == '-'){
          a = op == '+' ? a + b : op == '*' ? a * b : a - b;
          tokens[j++] = (K_NUMBER << 24) | (a & 0xffffff);
          i += 2;
          continue;
        }
      }
      tokens[j++] = tokens[i];
    }
    ntokens = j;
  }
}

int
main(int argc, char *argv[])
{
  struct stat st;
  char *src;
  int fd, n, i;
  uint hdr[4];

  if(argc != 3){
    fprintf(2, "usage: compile source object\n");
    exit(2);
  }
  if((fd = open(argv[1], O_RDONLY)) < 0 || fstat(fd, &st) < 0){
    fprintf(2, "compile: %s: %s\n", argv[1], strerror(errno));
    exit(1);
  }
  src = malloc(st.size + 1);
  if(src == 0){
    fprintf(2, "compile: out of memory\n");
    exit(1);
  }
  for(n = 0; n < st.size; n += i)
    if((i = read(fd, src + n, st.size - n)) <= 0)
      break;
  close(fd);

  tokenize(src, n);
  fold();

  if((fd = open(argv[2], O_WRONLY | O_CREATE | O_TRUNC)) < 0){
    fprintf(2, "compile: %s: %s\n", argv[2], strerror(errno));
    exit(1);
  }
  hdr[0] = 0x4a424f44;   // "DOBJ"
  hdr[1] = ntokens;
  hdr[2] = nsyms;
  hdr[3] = fnv1a(FNV_INIT, tokens, ntokens * 4);
  if(write(fd, hdr, sizeof hdr) != sizeof hdr || write(fd, tokens, ntokens * 4) != ntokens * 4){
    fprintf(2, "compile: %s: %s\n", argv[2], strerror(errno));
    exit(1);
  }
  // The symbol table, in slot order: use counts and names.
  for(i = 0; i < NSYM; i++){
    if(syms[i].name == 0)
      continue;
    write(fd, &syms[i].uses, 4);
    write(fd, syms[i].name, syms[i].len);
  }
  close(fd);
  exit(0);
}
