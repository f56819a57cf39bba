"""Clubcard physical cards: signed QR tokens, card numbers and printable renderings."""
