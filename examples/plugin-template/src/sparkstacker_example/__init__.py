"""Example Spark Stacker plugin: a z-score indicator and a fixed-risk sizer."""
