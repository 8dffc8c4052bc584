"""vfbench.models"""
