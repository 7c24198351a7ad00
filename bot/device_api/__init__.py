"""The device API: what a Teams Android device calls during remote provisioning.

- `routes`: the endpoints (`/api/devices/...`), JSON in and out, errors with a code and
  a message a technician can act on.
- `rate_limit`: attempts per client address per minute.
- `simulator`: a device played from the command line, for the walk-through and tests.

To add a device endpoint: a handler method on `DeviceApi` and its route in
`add_device_routes`, over a `DeviceService` call in `provisioning/`.
"""
