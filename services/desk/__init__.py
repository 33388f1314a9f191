"""The MASH desk: the web app where people work cases, as who they really are."""
