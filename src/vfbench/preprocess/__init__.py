"""vfbench.preprocess"""
