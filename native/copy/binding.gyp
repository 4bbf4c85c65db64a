{
  "targets": [
    {
      "target_name": "ddplab_copy",
      "sources": ["copy.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
