"""The pipeline's stages, one file each, in the order a frame meets them: capture (with its bursts
and storm limit), detect, store. ``messages.py`` holds what travels between them."""
