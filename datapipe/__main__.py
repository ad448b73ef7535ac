import sys

from datapipe.main import main

sys.exit(main())
