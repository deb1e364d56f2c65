"""Treatment physics: how a device's output becomes a field in the brain (TMS so far).

Kernels work in plain SI floats (seconds, metres, amperes, volts per metre).
"""
