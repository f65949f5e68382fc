/* The smallest useful image: one static binary that prints a line and exits. */
#include "../nolibc.h"

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    put("Hello from a pybuild image!\n");
    return 0;
}
