import sys

from seqmesh.cli import main

sys.exit(main())
