"""`check --cache DIR`: partitions' verdicts kept between runs and reused while nothing they
depend on has changed (runner.py); their keys (keys.py), entries (entries.py) and file (store.py)."""
from checker.engine.cache.runner import CacheSetting, CacheStats, PartitionCache, cached_run, line_memo

__all__ = ["CacheSetting", "CacheStats", "PartitionCache", "cached_run", "line_memo"]
