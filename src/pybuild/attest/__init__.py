"""What is inside an image and how it was made, as documents scanners and policy engines read:
SBOMs (SPDX, CycloneDX) and SLSA provenance, written from what the build knows, running nothing."""
