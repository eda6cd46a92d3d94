"""`python -m shared_code.cli ...`"""
import sys

from .parser import main

sys.exit(main())
