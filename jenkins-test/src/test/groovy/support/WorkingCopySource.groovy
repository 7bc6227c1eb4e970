package support

import com.lesfurets.jenkins.unit.global.lib.SourceRetriever

/**
 * Serves the library from this working copy, whatever version a Jenkinsfile asks for, the way
 * Jenkins serves it from the repository: vars/, src/ and resources/ of one folder.
 */
class WorkingCopySource implements SourceRetriever {
  final File root

  WorkingCopySource(File root) {
    this.root = root
  }

  @Override
  List<URL> retrieve(String repository, String branch, String targetPath) {
    return [root.toURI().toURL()]
  }
}
