{
  "targets": [
    {
      "target_name": "hendrix_raw",
      "sources": ["services/raw/native/hendrix_raw.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
