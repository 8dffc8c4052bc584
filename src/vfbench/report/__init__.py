"""vfbench.report"""
