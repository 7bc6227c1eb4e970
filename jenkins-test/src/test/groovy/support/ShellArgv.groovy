package support

/**
 * Runs a rendered command with /bin/sh -c, as Jenkins' sh step does, and returns the arguments
 * the command received. Used with a CLI prefix of `printf '%s\0'`, which prints each argument
 * followed by a NUL byte: the only byte no argument can contain, so the split is exact even for
 * arguments holding spaces, quotes or newlines.
 */
class ShellArgv {
  public static final String PRINTF_CLI = "printf '%s\\0'"

  /** The arguments after the CLI prefix, or an AssertionError with what the shell said. */
  static List<String> run(String command, File workDir) {
    Process process = new ProcessBuilder('/bin/sh', '-c', command)
        .directory(workDir)
        .redirectErrorStream(false)
        .start()
    process.outputStream.close()
    ByteArrayOutputStream out = new ByteArrayOutputStream()
    ByteArrayOutputStream err = new ByteArrayOutputStream()
    Thread errReader = Thread.start { err << process.errorStream }
    out << process.inputStream
    errReader.join()
    int exit = process.waitFor()
    if (exit != 0) {
      // (Object): Groovy would otherwise pick AssertionError's private String constructor
      throw new AssertionError((Object) "/bin/sh -c exited ${exit}: ${err.toString('UTF-8')}\ncommand: ${command}".toString())
    }
    String text = out.toString('UTF-8')
    if (text.isEmpty()) {
      return []
    }
    assert text.endsWith('\u0000'): "output does not end with NUL: ${text}"
    return text.substring(0, text.length() - 1).split('\u0000', -1) as List<String>
  }
}
