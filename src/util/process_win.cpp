// Windows processes: CreateProcessW, console control events and a named event for stop requests.
#include <windows.h>

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <io.h>
#include <shellapi.h>
#include <thread>

#include "util/path.hpp"
#include "util/process.hpp"
#include "util/win32.hpp"

namespace util {
namespace {

using win32::narrow;
using win32::widen;

std::atomic<bool>* g_stop_flag = nullptr;

BOOL WINAPI on_console_event(DWORD event) {
  if (g_stop_flag != nullptr) {
    g_stop_flag->store(true);
  }
  if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT) {
    // Windows ends the process when this returns; the worker's exit ends it sooner.
    Sleep(4000);
  }
  return TRUE;
}

// One event name per data directory, the same for the worker and for 'worker --stop': the
// normalised absolute path, case-folded (NTFS names are case-insensitive), hashed (FNV-1a).
std::wstring stop_event_name(const std::string& data_dir) {
  std::error_code ec;
  auto path = std::filesystem::absolute(fs_path(data_dir), ec).lexically_normal().wstring();
  while (path.size() > 3 && (path.back() == L'\\' || path.back() == L'/')) {
    path.pop_back();
  }
  uint64_t hash = 1469598103934665603ULL;
  for (const wchar_t c : path) {
    hash = (hash ^ static_cast<uint64_t>(towlower(c))) * 1099511628211ULL;
  }
  wchar_t hex[17];
  (void)swprintf(hex, 17, L"%016llx", static_cast<unsigned long long>(hash));
  return L"Local\\PlexSync-stop-" + std::wstring(hex);
}

// A command-line argument quoted so that CommandLineToArgvW (and the C runtime) reads it back.
std::wstring quote_argument(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    return arg;
  }
  std::wstring out = L"\"";
  size_t backslashes = 0;
  for (const wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    out.append(c == L'"' ? backslashes * 2 + 1 : backslashes, L'\\');
    backslashes = 0;
    out.push_back(c);
  }
  out.append(backslashes * 2, L'\\'); // before the closing quote, backslashes are doubled
  out.push_back(L'"');
  return out;
}

} // namespace

std::string own_executable_path(const std::string& /*argv0*/) {
  std::wstring buffer(32768, L'\0');
  const DWORD n = GetModuleFileNameW(nullptr, buffer.data(), static_cast<DWORD>(buffer.size()));
  return n == 0 || n >= buffer.size() ? std::string() : narrow(std::wstring_view(buffer.data(), n));
}

int current_pid() {
  return static_cast<int>(GetCurrentProcessId());
}

std::vector<std::string> utf8_arguments(int argc, char** argv) {
  int n = 0;
  wchar_t** wide = CommandLineToArgvW(GetCommandLineW(), &n);
  if (wide == nullptr || n != argc) {
    if (wide != nullptr) {
      LocalFree(reinterpret_cast<HLOCAL>(wide));
    }
    return {argv, argv + argc};
  }
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(narrow(wide[i]));
  }
  LocalFree(reinterpret_cast<HLOCAL>(wide));
  return out;
}

std::optional<std::string> environment_variable(const char* name) {
  const auto wide_name = widen(name);
  const DWORD size = GetEnvironmentVariableW(wide_name.c_str(), nullptr, 0);
  if (size == 0) {
    return std::nullopt;
  }
  std::wstring value(size, L'\0');
  const DWORD n = GetEnvironmentVariableW(wide_name.c_str(), value.data(), size);
  value.resize(n);
  return narrow(value);
}

bool spawn_detached(const std::string& exe, const std::vector<std::string>& args, const std::string& /*sink*/) {
  const auto app = widen(exe);
  std::wstring command = quote_argument(app);
  for (const auto& a : args) {
    command += L" " + quote_argument(widen(a));
  }
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  PROCESS_INFORMATION info{};
  // No inherited handles (Go hands the plugin its pipes as inheritable handles), no console, its
  // own process group, and out of Stash's job object where the job allows it, so that stopping
  // the task does not end the worker. The environment (PLEXSYNC_*) is inherited.
  DWORD flags = DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT | CREATE_BREAKAWAY_FROM_JOB;
  BOOL ok =
      CreateProcessW(app.c_str(), command.data(), nullptr, nullptr, FALSE, flags, nullptr, nullptr, &startup, &info);
  if (!ok && GetLastError() == ERROR_ACCESS_DENIED) {
    flags &= ~static_cast<DWORD>(CREATE_BREAKAWAY_FROM_JOB); // a job that forbids breaking away
    ok = CreateProcessW(app.c_str(), command.data(), nullptr, nullptr, FALSE, flags, nullptr, nullptr, &startup, &info);
  }
  if (!ok) {
    return false;
  }
  CloseHandle(info.hThread);
  CloseHandle(info.hProcess);
  return true;
}

bool stderr_is_console() {
  // Not _isatty: the C runtime marks a missing handle (a detached process's) as a character device.
  const HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
  DWORD mode = 0;
  return h != nullptr && h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode) != 0;
}

void use_binary_stdio() {
  (void)_setmode(_fileno(stdin), _O_BINARY);
  (void)_setmode(_fileno(stdout), _O_BINARY);
}

void ignore_broken_pipes() {} // Windows has no SIGPIPE: a write to a closed socket is an error code

void on_stop_request(std::atomic<bool>* flag, const std::string& data_dir) {
  g_stop_flag = flag;
  (void)SetConsoleCtrlHandler(on_console_event, TRUE);
  const HANDLE event = CreateEventW(nullptr, TRUE, FALSE, stop_event_name(data_dir).c_str());
  if (event == nullptr) {
    return; // console events still work; 'worker --stop' will say it found nobody listening
  }
  // Lives as long as the process: the handle is released when the process ends.
  std::thread([event, flag] {
    if (WaitForSingleObject(event, INFINITE) == WAIT_OBJECT_0) {
      flag->store(true);
    }
  }).detach();
}

std::string request_stop(const std::string& data_dir, int pid) {
  const HANDLE event = OpenEventW(EVENT_MODIFY_STATE, FALSE, stop_event_name(data_dir).c_str());
  if (event == nullptr) {
    return "worker pid " + std::to_string(pid) +
           " does not listen for stop requests in this Windows session (a service, or another user's logon): "
           "stop it from there, or end it with 'taskkill /PID " +
           std::to_string(pid) + "' (its queue is kept either way)";
  }
  const BOOL ok = SetEvent(event);
  const DWORD code = GetLastError();
  CloseHandle(event);
  return ok != 0 ? std::string() : "cannot signal worker pid " + std::to_string(pid) + ": " + win32::error_text(code);
}

} // namespace util
