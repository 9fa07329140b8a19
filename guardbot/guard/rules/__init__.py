"""The guard's rules, one module each; `guardbot.guard.engine` runs them in order."""
