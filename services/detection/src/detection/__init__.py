"""CityOps detection: the anti-corruption layer where sources report problems.

Sources (video AI, drones, IoT sensors, inspectors, citizens) post reports;
this service validates and normalises each into one `Detection`, stores it
once per source event and publishes `DetectionReported` for intake.
"""
