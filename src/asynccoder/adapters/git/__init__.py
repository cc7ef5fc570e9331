"""git itself: the CLI transport (clone, commit, push) and the local-repositories code host."""
