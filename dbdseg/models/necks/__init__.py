from .aim_sim_neck import AIMSIMNeck
from .srfb_neck import SRFBNeck

__all__ = ['AIMSIMNeck', 'SRFBNeck']
