"""CityOps intake: files cases (立案) from detections and by hand, and keeps each
case's state current from the events of the services that handle it."""
