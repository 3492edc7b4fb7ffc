"""Hardware behind small interfaces: the PIR, the camera, the lights. Each has a fake.

The camera backends (picamera2, replay, synthetic) are listed in trapd/backends.py, which opens
the one ``camera.type`` names. The picamera2 adapter imports picamera2 only when a camera is
opened, because importing picamera2 needs libcamera (a Pi).
"""
