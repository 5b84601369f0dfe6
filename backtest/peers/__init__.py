"""Reference implementations in other engines, to check this one against (test and bench
only: their engines are dev dependencies, imported lazily)."""
