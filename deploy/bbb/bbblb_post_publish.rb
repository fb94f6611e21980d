#!/usr/bin/ruby
# frozen_string_literal: true

# bbblb's post_publish script for BigBlueButton servers: hands each published recording format to bbblb
# (central custody, `bbblb serve --recordings-dir`), then removes the server's own copy once bbblb confirms the
# import.
#
# Install on every BBB server (as root):
#   install -m 0644 bbblb_post_publish.rb /usr/local/bigbluebutton/core/scripts/post_publish/
#   install -m 0640 -g bigbluebutton bbblb.yml /etc/bigbluebutton/bbblb.yml    # set url: (BBBLB_URL)
#
# How BBB calls it (read from BBB's own scripts, bigbluebutton/bigbluebutton,
# record-and-playback/core/scripts/workers/): rap-publish-worker.rb runs `run_post_scripts` after each format
# of a recording is published, and rap-base-worker.rb's `run_post_scripts` runs every
# `post_publish/*.rb`, sorted, as `ruby <script> -m <meeting_id> -f <format_name>` and waits for it. So this
# script runs once per published format; it must never hold up BBB's queue, so it starts a detached uploader
# (output to the log file, not to BBB's pipes) and exits 0 at once. The uploader retries with back-off while
# bbblb cannot be reached, and keeps the server's copy unless bbblb reports the import done.
#
#   ruby bbblb_post_publish.rb -m RECORD_ID -f FORMAT    what BBB runs (detaches)
#   ruby bbblb_post_publish.rb --foreground -m ID -f F   the same, waiting for the end
#   ruby bbblb_post_publish.rb --backfill                every recording already under published_dir, one by one
#
# The upload: POST <url>/bbblb/v1/recordings, body a tar of <format>/<recordID>/ as under
# /var/bigbluebutton/published with its Content-Length (tar runs once first to count it), `Authorization:
# Bearer <JWT>` (HS256 with this server's API secret, iss = the host[:port] of this server's URL as registered
# in bbblb, aud = bbblb's URL, 5 minutes). Only Ruby's standard library and GNU tar are used.

require 'English'
require 'base64'
require 'fileutils'
require 'json'
require 'logger'
require 'net/http'
require 'openssl'
require 'optparse'
require 'uri'
require 'yaml'

# Settings, from the YAML file named by BBBLB_UPLOAD_CONFIG (default /etc/bigbluebutton/bbblb.yml).
class Settings
  DEFAULTS = {
    'url' => nil,
    'secret' => nil,
    'server_url' => nil,
    'published_dir' => '/var/bigbluebutton/published',
    'spool_dir' => '/var/bigbluebutton/bbblb',
    'log_file' => '/var/log/bigbluebutton/bbblb-upload.log',
    'remove_after_import' => true,
    'gzip' => false,
    'retry_for' => 24 * 3600,
    'first_retry' => 30,
    'max_retry' => 600,
    'import_wait' => 3600,
    'http_timeout' => 3600,
    'bbb_properties' => ['/usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties',
                         '/etc/bigbluebutton/bbb-web.properties'],
  }.freeze

  attr_reader :values

  def initialize(path)
    loaded = File.exist?(path) ? (YAML.safe_load(File.read(path)) || {}) : {}
    raise "#{path} is not a YAML mapping" unless loaded.is_a?(Hash)

    @values = DEFAULTS.merge(loaded)
    props = read_properties(@values['bbb_properties'])
    @values['secret'] ||= props['securitySalt']
    @values['server_url'] ||= props['bigbluebutton.web.serverURL']
    %w[url secret server_url].each do |k|
      raise "#{k} is not set (in #{path} or BBB's properties)" if @values[k].nil? || @values[k].to_s.strip.empty?
    end
    @values['url'] = @values['url'].to_s.sub(%r{/+\z}, '')
  end

  def [](key)
    @values[key]
  end

  # The iss claim: host[:port] of this server's URL, as bbblb has it registered.
  def issuer
    uri = URI.parse(@values['server_url'].to_s)
    uri.port == uri.default_port ? uri.host.downcase : "#{uri.host.downcase}:#{uri.port}"
  end

  private

  # Java properties files, later ones overriding earlier ones (bbb-web.properties overrides the defaults).
  def read_properties(paths)
    props = {}
    Array(paths).each do |p|
      next unless File.readable?(p)

      File.foreach(p) do |line|
        next if line =~ /\A\s*[#!]/ || line !~ /=/

        key, value = line.split('=', 2)
        props[key.strip] = value.strip
      end
    end
    props
  end
end

# One upload of one format of one recording, with retries, the wait for the import and the cleanup.
class Uploader
  # An answer that will not change by trying again (bad token, unreadable or too large archive).
  class Refused < StandardError; end

  # A stream that must hold exactly `size` bytes (the Content-Length sent): a folder that changed between the
  # count and the upload aborts the upload (bbblb then drops what it got), and it is tried again later.
  class ExactSize
    def initialize(io, size)
      @io = io
      @left = size
    end

    def read(length = nil, buf = nil)
      piece = @io.read(length || (1 << 20), buf)
      if piece.nil?
        raise "the recording changed while it was uploaded (#{@left} bytes short)" unless @left.zero?

        return nil
      end
      @left -= piece.bytesize
      raise 'the recording changed while it was uploaded (longer than counted)' if @left.negative?

      piece
    end
  end

  def initialize(settings, logger)
    @s = settings
    @log = logger
  end

  def jwt
    b64 = ->(s) { Base64.urlsafe_encode64(s, padding: false) }
    now = Time.now.to_i
    header = b64.call(JSON.generate(alg: 'HS256', typ: 'JWT'))
    payload = b64.call(JSON.generate(iss: @s.issuer, aud: @s['url'], iat: now, exp: now + 300))
    signature = b64.call(OpenSSL::HMAC.digest('SHA256', @s['secret'].to_s, "#{header}.#{payload}"))
    "#{header}.#{payload}.#{signature}"
  end

  def http(uri)
    h = Net::HTTP.new(uri.host, uri.port)
    h.use_ssl = uri.scheme == 'https'
    h.open_timeout = 30
    h.read_timeout = @s['http_timeout']
    h.write_timeout = @s['http_timeout'] if h.respond_to?(:write_timeout=)
    h
  end

  # The tar command for <format>/<recordID>.
  def tar_args(format, record_id)
    args = ['tar', '-C', @s['published_dir'], '--dereference', '--hard-dereference', '-c']
    args << '-z' if @s['gzip']
    args + ['-f', '-', "#{format}/#{record_id}"]
  end

  # Bytes the tar of <format>/<recordID> has: tar runs once to count them, so the upload can be sent with a
  # Content-Length, which bbblb requires (411 without): Deno's HTTP server decodes a chunked body at a cost that
  # grows with its size (256 MiB in Ruby's 16 KiB chunks: 229 s); counting costs one more read of the files.
  def tar_size(format, record_id)
    size = 0
    IO.popen(tar_args(format, record_id), 'rb', err: File::NULL) do |io|
      while (piece = io.read(1 << 20))
        size += piece.bytesize
      end
    end
    raise "tar of #{format}/#{record_id} failed" unless $CHILD_STATUS.success?

    size
  end

  # POST the tar of <format>/<recordID>; returns the status path bbblb answered with.
  def post(format, record_id)
    uri = URI.parse("#{@s['url']}/bbblb/v1/recordings")
    size = tar_size(format, record_id)
    IO.popen(tar_args(format, record_id), 'rb', err: File::NULL) do |io|
      req = Net::HTTP::Post.new(uri.request_uri)
      req['Authorization'] = "Bearer #{jwt}"
      req['Content-Type'] = @s['gzip'] ? 'application/gzip' : 'application/x-tar'
      req['Content-Length'] = size.to_s
      req.body_stream = ExactSize.new(io, size)
      res = http(uri).request(req)
      body = begin
        JSON.parse(res.body.to_s)
      rescue JSON::ParserError
        {}
      end
      case res.code.to_i
      when 202 then return body['status'] || "/bbblb/v1/recordings/uploads/#{body['id']}"
      when 400, 401, 413 then raise Refused, "bbblb refused it (#{res.code}): #{body['error']}"
      else raise "bbblb answered #{res.code}: #{body['error']}"
      end
    end
  end

  # Ask bbblb how the import went; nil while it is not done.
  def status(path)
    uri = URI.parse("#{@s['url']}#{path}")
    req = Net::HTTP::Get.new(uri.request_uri)
    req['Authorization'] = "Bearer #{jwt}"
    res = http(uri).request(req)
    raise "status answered #{res.code}" unless res.code.to_i == 200

    body = JSON.parse(res.body.to_s)
    %w[imported failed].include?(body['state']) ? body : nil
  end

  # Upload one format of one recording; true once bbblb imported it.
  def run(format, record_id)
    folder = File.join(@s['published_dir'], format, record_id)
    unless File.directory?(folder)
      @log.info("#{record_id} #{format}: no folder #{folder}, nothing to upload")
      return false
    end
    FileUtils.mkdir_p(@s['spool_dir'])
    File.open(File.join(@s['spool_dir'], "#{record_id}-#{format}.lock"), File::RDWR | File::CREAT, 0o644) do |lock|
      unless lock.flock(File::LOCK_EX | File::LOCK_NB)
        @log.info("#{record_id} #{format}: another upload of it is running")
        return false
      end
      upload_and_wait(folder, format, record_id)
    end
  end

  private

  def upload_and_wait(folder, format, record_id)
    deadline = Time.now + @s['retry_for']
    pause = @s['first_retry']
    path = nil
    begin
      path = post(format, record_id)
    rescue Refused => e
      @log.error("#{record_id} #{format}: #{e.message}; the copy stays here")
      return false
    rescue StandardError => e
      if Time.now + pause > deadline
        @log.error("#{record_id} #{format}: giving up after retrying (#{e.message}); run --backfill later")
        return false
      end
      @log.warn("#{record_id} #{format}: upload failed (#{e.message}), retrying in #{pause}s")
      sleep(pause)
      pause = [pause * 2, @s['max_retry']].min
      retry
    end
    @log.info("#{record_id} #{format}: uploaded, waiting for the import")
    result = wait_for_import(path)
    if result.nil?
      @log.warn("#{record_id} #{format}: bbblb did not confirm the import in time; the copy stays here")
      return false
    end
    if result['state'] != 'imported'
      errors = (result['items'] || []).map { |i| i['error'] }.compact.join('; ')
      @log.error("#{record_id} #{format}: bbblb could not import it: #{errors}; the copy stays here")
      return false
    end
    FileUtils.touch(File.join(@s['spool_dir'], "#{record_id}-#{format}.done"))
    if @s['remove_after_import']
      FileUtils.rm_rf(folder)
      @log.info("#{record_id} #{format}: imported by bbblb; removed the copy here")
    else
      @log.info("#{record_id} #{format}: imported by bbblb")
    end
    true
  end

  def wait_for_import(path)
    deadline = Time.now + @s['import_wait']
    pause = 1
    while Time.now < deadline
      begin
        result = status(path)
        return result if result
      rescue StandardError => e
        @log.warn("import status: #{e.message}")
      end
      sleep(pause)
      pause = [pause * 2, 30].min
    end
    nil
  end
end

options = { foreground: false, backfill: false }
OptionParser.new do |o|
  o.banner = 'usage: bbblb_post_publish.rb -m RECORD_ID -f FORMAT [--foreground] | --backfill'
  o.on('-m', '--meeting-id ID', 'the recordID (BBB passes the internal meeting ID)') { |v| options[:meeting_id] = v }
  o.on('-f', '--format FORMAT', 'the playback format just published') { |v| options[:format] = v }
  o.on('--foreground', 'upload now and wait, instead of detaching') { options[:foreground] = true }
  o.on('--backfill', 'upload every recording already under published_dir') { options[:backfill] = true }
end.parse!

config_path = ENV['BBBLB_UPLOAD_CONFIG'] || '/etc/bigbluebutton/bbblb.yml'
begin
  settings = Settings.new(config_path)
rescue StandardError => e
  warn("bbblb_post_publish: #{e.message}")
  exit(options[:backfill] ? 2 : 0) # never fail BBB's pipeline
end

log_target = begin
  FileUtils.mkdir_p(File.dirname(settings['log_file']))
  File.open(settings['log_file'], 'a').tap { |f| f.sync = true }
rescue StandardError
  $stderr
end
logger = Logger.new(log_target)
logger.progname = 'bbblb'

if options[:backfill]
  uploader = Uploader.new(settings, Logger.new($stdout).tap { |l| l.progname = 'bbblb' })
  ok = 0
  failed = 0
  Dir.glob(File.join(settings['published_dir'], '*', '*', 'metadata.xml')).sort.each do |md|
    record_dir = File.dirname(md)
    format = File.basename(File.dirname(record_dir))
    record_id = File.basename(record_dir)
    next if File.exist?(File.join(settings['spool_dir'], "#{record_id}-#{format}.done")) && File.directory?(record_dir) && !settings['remove_after_import']

    uploader.run(format, record_id) ? ok += 1 : failed += 1
  end
  puts "#{ok} imported, #{failed} not imported"
  exit(failed.zero? ? 0 : 1)
end

unless options[:meeting_id] && options[:format]
  warn('bbblb_post_publish: -m RECORD_ID and -f FORMAT are required (or --backfill)')
  exit 0
end
unless options[:meeting_id] =~ /\A[0-9a-f]{40}-\d+(-\d+)?\z/ && options[:format] =~ /\A[a-z][a-z0-9_-]*\z/
  logger.error("not a recordID and format: #{options[:meeting_id].inspect} #{options[:format].inspect}")
  exit 0
end

if options[:foreground]
  Uploader.new(settings, logger).run(options[:format], options[:meeting_id])
  exit 0
end

# Detach: a new process group, output to the log file (BBB waits on this script's pipes, not on the uploader).
pid = Process.spawn(RbConfig.ruby, __FILE__, '--foreground', '-m', options[:meeting_id], '-f', options[:format],
                    pgroup: true, in: File::NULL, out: log_target.is_a?(File) ? log_target : File::NULL,
                    err: log_target.is_a?(File) ? log_target : File::NULL)
Process.detach(pid)
logger.info("#{options[:meeting_id]} #{options[:format]}: uploading in the background (pid #{pid})")
exit 0
