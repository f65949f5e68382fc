/* Just enough of a C runtime for tiny static Linux programs: write(2) and exit(2) as raw
 * system calls, so a sample binary is a few KB and needs no libc in the image. */
#ifndef NOLIBC_H
#define NOLIBC_H

typedef unsigned long size_t;

#if defined(__x86_64__)
static long sys3(long n, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
#define SYS_WRITE 1
#define SYS_EXIT 60
#elif defined(__aarch64__)
static long sys3(long n, long a, long b, long c) {
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
#define SYS_WRITE 64
#define SYS_EXIT 93
#else
#error "nolibc.h: add the system-call numbers for this architecture"
#endif

static size_t length(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static void put(const char *s) { sys3(SYS_WRITE, 1, (long)s, (long)length(s)); }
static void quit(int code) { sys3(SYS_EXIT, code, 0, 0); for (;;) {} }

int main(int argc, char **argv);

/* The kernel starts us with argc, argv on the stack; hand them to main. */
__attribute__((used)) static void start_c(long *sp) {
    quit(main((int)sp[0], (char **)(sp + 1)));
}
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n");
#else
__asm__(".globl _start\n_start:\n  mov x0, sp\n  bl start_c\n");
#endif

#endif
