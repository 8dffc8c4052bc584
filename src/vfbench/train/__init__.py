"""vfbench.train"""
