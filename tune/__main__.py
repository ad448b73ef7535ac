import sys

from tune.main import main

sys.exit(main())
