import sys

from pretrain.main import main

sys.exit(main())
