{
  "targets": [
    {
      "target_name": "hendrix_raw",
      "sources": ["services/raw/native/hendrix_raw.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "hendrix_notify",
      "sources": ["src/runtime/native/notify.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
