"""Plain-Python domain: no Azure import may appear under this package."""
