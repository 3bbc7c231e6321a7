"""Tools around the services: the local stack, the city simulator, loop drivers."""
