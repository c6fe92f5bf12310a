from .sod_metric import SODMetric

__all__ = ['SODMetric']
