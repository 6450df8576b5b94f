// Test guest for the lifecycle tests. The first word of stdin picks what it
// does:
//   wait MS            busy-waits MS milliseconds, then prints "waited MS"
//   fail               writes "failing" on stderr and exits 1
//   secret NAME VALUE  prints "equal" when $NAME is VALUE (else "differ"),
//                      and writes "NAME=<its value>" on stderr, so that a
//                      test can check the value is redacted from records
//   anything else      prints "tag=$TAG input=<stdin>"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void) {
  static char in[65536];
  size_t n = fread(in, 1, sizeof in - 1, stdin);
  in[n] = '\0';
  char word[32] = {0};
  sscanf(in, "%31s", word);
  if (strcmp(word, "wait") == 0) {
    long ms = 0;
    sscanf(in + 4, "%ld", &ms);
    const long long until = now_ms() + ms;
    while (now_ms() < until) {
    }
    printf("waited %ld", ms);
    return 0;
  }
  if (strcmp(word, "fail") == 0) {
    fputs("failing\n", stderr);
    return 1;
  }
  if (strcmp(word, "secret") == 0) {
    char name[128] = {0};
    char value[4096] = {0};
    sscanf(in + 6, "%127s %4095s", name, value);
    const char* got = getenv(name);
    printf("%s", got != NULL && strcmp(got, value) == 0 ? "equal" : "differ");
    fprintf(stderr, "%s=%s\n", name, got != NULL ? got : "<unset>");
    return 0;
  }
  const char* tag = getenv("TAG");
  printf("tag=%s input=%s", tag != NULL ? tag : "", in);
  return 0;
}
