/* Placeholder until the CLI lands (serve, migrate, admin, audit, version). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "tollgate: not built yet\n");
    return 1;
}
