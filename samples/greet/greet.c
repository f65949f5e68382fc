/* Greets each argument. The image's ENTRYPOINT is this program and its CMD the default
 * argument, so `docker run IMAGE Ada` replaces the default. */
#include "../nolibc.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        put("usage: greet NAME...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        put("Hello, ");
        put(argv[i]);
        put("!\n");
    }
    return 0;
}
