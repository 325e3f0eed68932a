// signfed-edge: the edge client; see --help.
#include "edge/cli.h"

int main(int argc, char** argv) { return signfed::edge::edge_main(argc, argv, "signfed-edge"); }
