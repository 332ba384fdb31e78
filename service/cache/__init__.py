"""The decision cache: an in-process LRU and, when configured, Redis shared by replicas."""
