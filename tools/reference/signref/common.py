"""The method lists and constants shared by the modules."""
import numpy as np

METHODS = ("signsgd", "signum", "s3gd", "randk", "stochsign", "efsign", "fedsgd", "fedavg")
VOTE_METHODS = ("signsgd", "signum", "s3gd", "randk")      # ternary uplink, majority-vote downlink
MEAN_METHODS = ("stochsign", "efsign", "fedsgd", "fedavg")  # weighted mean downlink
SIGN_UPLINK = ("signsgd", "signum", "s3gd", "randk", "stochsign", "efsign")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
EPS32 = float(np.finfo(np.float32).eps)
