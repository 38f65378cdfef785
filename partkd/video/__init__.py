"""Your own video: decoding, the BlazePose estimator, and extraction to the generic npz."""
