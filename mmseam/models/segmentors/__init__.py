# Copyright (c) mmseam contributors. All rights reserved.
__all__ = []
