"""End-to-end tests: a real hypercorn process driven by a real (headless) Chromium."""
