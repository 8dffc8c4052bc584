"""vfbench.collect"""
