"""The hash of OAuth2 client secrets.

A client secret is 128 random characters, not a password a person chose: it cannot be guessed,
so the stored hash needs no key stretching. Checking it with the password hasher (a million
PBKDF2 rounds, ~180 ms of CPU) would let anyone who knows a client_id tie up the server's cores
with wrong secrets on /o/token/. A thousand rounds cost well under a millisecond.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_client_secret"
    iterations = 1000
