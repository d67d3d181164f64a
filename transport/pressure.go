package transport

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/exlab/exlab/config"
)

// Back pressure (spec §8.5): the hub meters the used disk space of its queue database's volume
// and the number of messages it holds every ResourceMeteringInterval, and moves each resource
// between Low, Medium and High by Exchange's four transitions. At Medium it refuses mail from
// sources that are not Exchange servers, at High all mail, with R34 (452 4.3.1 Insufficient
// system resources) at MAIL FROM; the frontend passes that reply on. Transitions are logged as
// Events 15004 (increased) and 15005 (decreased), in Exchange's shape with exlab's wording.

// Pressure levels.
const (
	pressureLow int32 = iota
	pressureMedium
	pressureHigh
)

var levelNames = [...]string{"Normal", "Medium", "High"}

// pressure is the hub's resource meter.
type pressure struct {
	level atomic.Int32 // the highest level of any resource
	cfg   config.BackPressure
	log   *slog.Logger
	disk  func() (int64, error) // used space of the queue's volume, percent
	queue func() int64          // messages held
	stop  chan struct{}
	done  chan struct{}
}

// next moves one resource's level by its transitions.
func next(level int32, v int64, t config.PressureThresholds) int32 {
	switch level {
	case pressureLow:
		if v >= t.MediumToHigh {
			return pressureHigh
		}
		if v >= t.LowToMedium {
			return pressureMedium
		}
	case pressureMedium:
		if v >= t.MediumToHigh {
			return pressureHigh
		}
		if v <= t.MediumToLow {
			return pressureLow
		}
	case pressureHigh:
		if v <= t.MediumToLow {
			return pressureLow
		}
		if v <= t.HighToMedium {
			return pressureMedium
		}
	}
	return level
}

func (p *pressure) run() {
	defer close(p.done)
	var diskLevel, queueLevel int32
	t := time.NewTicker(p.cfg.ResourceMeteringInterval.Duration())
	defer t.Stop()
	for {
		disk, err := p.disk()
		if err != nil {
			p.log.Warn("back pressure: disk space not metered", "err", err)
		} else {
			diskLevel = next(diskLevel, disk, p.cfg.UsedDiskSpace)
		}
		q := p.queue()
		queueLevel = next(queueLevel, q, p.cfg.QueueLength)
		level := max(diskLevel, queueLevel)
		if old := p.level.Swap(level); old != level {
			id, verb := 15004, "increased"
			if level < old {
				id, verb = 15005, "decreased"
			}
			p.log.Warn(fmt.Sprintf("The resource pressure %s from %s to %s. The following resources are metered: "+
				"Used disk space = %d%% [%s] [Medium=%d%% High=%d%%]; Queue length = %d [%s] [Medium=%d High=%d].",
				verb, levelNames[old], levelNames[level], disk, levelNames[diskLevel], p.cfg.UsedDiskSpace.LowToMedium,
				p.cfg.UsedDiskSpace.MediumToHigh, q, levelNames[queueLevel], p.cfg.QueueLength.LowToMedium, p.cfg.QueueLength.MediumToHigh),
				"EventID", id, "Source", "MSExchangeTransport", "TaskCategory", "ResourceManager")
		}
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// refuses says whether mail from this source is refused now: at Medium all but Exchange
// servers' own, at High everything.
func (p *pressure) refuses(exchangeSource bool) bool {
	if p == nil {
		return false
	}
	switch p.level.Load() {
	case pressureHigh:
		return true
	case pressureMedium:
		return !exchangeSource
	}
	return false
}
