"""Turning pages into the Page > Line > Word tree: PDF text layers, image clean-up, Tesseract OCR."""
