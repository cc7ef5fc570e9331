"""Users: accounts, profiles and the repository port."""
