"""What `make demo` and `make check` need from this machine, said in seconds (preflight), and the
pruning of ~/.cache/lepton (`make clean-cache`). Standard library only: it runs before the
project's virtualenv exists."""
