// sh: the shell.
//
//   line     := job { (';' | '&') job } ['&' | ';']
//   job      := command { '|' command }
//   command  := word { word | '<' word | '>' word | '>>' word }
//
// Words may be quoted with '...' or "..."; '#' starts a comment. Built-ins:
// cd, exit, poweroff, wait. Other commands are looked up as given, then
// in '/'.

#include "user.h"

#define MAXLINE  512
#define MAXARGS  32
#define MAXCMDS  16

struct cmd {
  char *argv[MAXARGS + 1];
  int argc;
  char *in;          // < file
  char *out;         // > file or >> file
  int append;
};

// Token kinds; words carry their text.
enum { T_END, T_WORD, T_PIPE, T_IN, T_OUT, T_APPEND, T_AMP, T_SEMI, T_ERR };

static char *pos;              // scan position in the line
static char wordbuf[MAXLINE * 2];
static char *wordp;

static int
token(char **word)
{
  char q;

  while(*pos && isspace(*pos))
    pos++;
  switch(*pos){
  case 0:
  case '#':
    return T_END;
  case '|':
    pos++;
    return T_PIPE;
  case '<':
    pos++;
    return T_IN;
  case '>':
    pos++;
    if(*pos == '>'){
      pos++;
      return T_APPEND;
    }
    return T_OUT;
  case '&':
    pos++;
    return T_AMP;
  case ';':
    pos++;
    return T_SEMI;
  }
  *word = wordp;
  while(*pos && !isspace(*pos) && !strchr("|<>&;#", *pos)){
    if(*pos == '\'' || *pos == '"'){
      q = *pos++;
      while(*pos && *pos != q)
        *wordp++ = *pos++;
      if(*pos != q){
        fprintf(2, "sh: missing %c\n", q);
        return T_ERR;
      }
      pos++;
    } else
      *wordp++ = *pos++;
  }
  *wordp++ = 0;
  return T_WORD;
}

// Exec argv[0] as given, then from the root directory, where the image
// builder puts every program. Does not return.
static void
runcmd(char **argv)
{
  char path[64];

  exec(argv[0], argv);
  if(errno == ENOENT && !strchr(argv[0], '/') && strlen(argv[0]) < sizeof path - 2){
    snprintf(path, sizeof path, "/%s", argv[0]);
    exec(path, argv);
  }
  if(errno == ENOENT)
    fprintf(2, "sh: %s: command not found\n", argv[0]);
  else
    fprintf(2, "sh: %s: %s\n", argv[0], strerror(errno));
  exit(127);
}

// Point fd (0 or 1) at a file: open returns the lowest free descriptor.
static void
redirect(int fd, char *file, int append)
{
  int r;
  char buf[512];

  close(fd);
  if(fd == 0)
    r = open(file, O_RDONLY);
  else if(append){
    // No O_APPEND in the ABI: read to the end, and writes follow, since
    // reads and writes share the file offset.
    r = open(file, O_RDWR | O_CREATE);
    if(r >= 0)
      while(read(r, buf, sizeof buf) > 0)
        ;
  } else
    r = open(file, O_WRONLY | O_CREATE | O_TRUNC);
  if(r < 0){
    fprintf(2, "sh: %s: %s\n", file, strerror(errno));
    exit(1);
  }
}

// Built-ins run in the shell itself. Returns 1 if argv was one.
static int
builtin(struct cmd *c)
{
  char **argv = c->argv;

  if(strcmp(argv[0], "cd") == 0){
    if(chdir(argv[1] ? argv[1] : "/") < 0)
      fprintf(2, "sh: cd %s: %s\n", argv[1] ? argv[1] : "/", strerror(errno));
    return 1;
  }
  if(strcmp(argv[0], "wait") == 0){
    // Every background job: wait until there are no children left.
    while(wait(0) >= 0)
      ;
    return 1;
  }
  if(strcmp(argv[0], "exit") == 0)
    exit(argv[1] ? atoi(argv[1]) : 0);
  if(strcmp(argv[0], "poweroff") == 0){
    poweroff(argv[1] ? atoi(argv[1]) : 0);
    fprintf(2, "sh: poweroff: %s\n", strerror(errno));
    return 1;
  }
  return 0;
}

// Run a pipeline of n commands; wait for all of them unless background.
static void
runjob(struct cmd *cmds, int n, int background)
{
  int pids[MAXCMDS];
  int i, p[2], prev = -1, pid, left;

  if(n == 1 && !background && builtin(&cmds[0]))
    return;
  for(i = 0; i < n; i++){
    p[0] = p[1] = -1;
    if(i + 1 < n && pipe(p) < 0){
      fprintf(2, "sh: pipe: %s\n", strerror(errno));
      break;
    }
    pid = fork();
    if(pid < 0){
      fprintf(2, "sh: fork: %s\n", strerror(errno));
      if(p[0] >= 0){
        close(p[0]);
        close(p[1]);
      }
      break;
    }
    if(pid == 0){
      if(prev >= 0){
        close(0);
        dup(prev);
        close(prev);
      }
      if(p[1] >= 0){
        close(1);
        dup(p[1]);
        close(p[1]);
        close(p[0]);
      }
      if(cmds[i].in)
        redirect(0, cmds[i].in, 0);
      if(cmds[i].out)
        redirect(1, cmds[i].out, cmds[i].append);
      runcmd(cmds[i].argv);
    }
    pids[i] = pid;
    if(prev >= 0)
      close(prev);
    if(p[1] >= 0)
      close(p[1]);
    prev = p[0];
  }
  if(prev >= 0)
    close(prev);
  n = i;
  if(background){
    if(n > 0)
      printf("[%d]\n", pids[n - 1]);
    return;
  }
  // Earlier background jobs may be reaped here too; only ours count.
  for(left = n; left > 0; ){
    pid = wait(0);
    if(pid < 0)
      break;
    for(i = 0; i < n; i++)
      if(pids[i] == pid){
        pids[i] = -1;
        left--;
      }
  }
}

// Parse and run one line.
static void
runline(char *line)
{
  static struct cmd cmds[MAXCMDS];
  struct cmd *c;
  int n = 0, t;
  char *w;

  // Words are copied into wordbuf, never longer than the line itself.
  if(strlen(line) >= sizeof wordbuf){
    fprintf(2, "sh: line too long\n");
    return;
  }
  pos = line;
  wordp = wordbuf;
  memset(&cmds[0], 0, sizeof cmds[0]);
  for(;;){
    t = token(&w);
    c = &cmds[n];
    switch(t){
    case T_WORD:
      if(c->argc >= MAXARGS){
        fprintf(2, "sh: too many arguments\n");
        return;
      }
      c->argv[c->argc++] = w;
      c->argv[c->argc] = 0;
      break;
    case T_IN:
    case T_OUT:
    case T_APPEND:
      if(token(&w) != T_WORD){
        fprintf(2, "sh: missing file name for redirection\n");
        return;
      }
      if(t == T_IN)
        c->in = w;
      else {
        c->out = w;
        c->append = t == T_APPEND;
      }
      break;
    case T_PIPE:
      if(c->argc == 0 || n + 1 >= MAXCMDS){
        fprintf(2, "sh: bad pipeline\n");
        return;
      }
      n++;
      memset(&cmds[n], 0, sizeof cmds[n]);
      break;
    case T_END:
    case T_AMP:
    case T_SEMI:
      if(c->argc == 0){
        if(n > 0 || (t == T_AMP)){
          fprintf(2, "sh: syntax error\n");
          return;
        }
      } else
        runjob(cmds, n + 1, t == T_AMP);
      if(t == T_END)
        return;
      n = 0;
      memset(&cmds[0], 0, sizeof cmds[0]);
      break;
    default:
      return;
    }
  }
}

int
main(int argc, char *argv[])
{
  static char line[MAXLINE];
  struct stat st;
  int fd = 0, prompt;

  if(argc >= 3 && strcmp(argv[1], "-c") == 0){
    runline(argv[2]);
    exit(0);
  }
  if(argc >= 2 && (fd = open(argv[1], O_RDONLY)) < 0){
    fprintf(2, "sh: %s: %s\n", argv[1], strerror(errno));
    exit(1);
  }
  // Prompt only when reading from the console, not from a script or pipe.
  prompt = fstat(fd, &st) == 0 && st.type == T_DEVICE;
  for(;;){
    if(prompt)
      write(2, "$ ", 2);
    if(readline(fd, line, sizeof line) == 0)
      break;
    runline(line);
  }
  exit(0);
}
